// keymoments web app: live progress of a run, and charts drawn with the shipped Vega.
(function () {
  "use strict";

  function poll(box) {
    var url = box.getAttribute("data-status-url");
    var bar = document.getElementById("bar");
    var stage = document.getElementById("stage");
    var count = document.getElementById("count");
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (run) {
          if (run.status !== "queued" && run.status !== "running") {
            window.location.reload();
            return;
          }
          stage.textContent = run.stage_label;
          bar.max = run.total || 1;
          bar.value = run.done;
          count.textContent = run.total ? run.done + " of " + run.total : "";
          setTimeout(tick, 500);
        })
        .catch(function () { setTimeout(tick, 2000); });
    }
    tick();
  }

  function charts() {
    var figures = document.querySelectorAll("figure[data-chart]");
    if (!figures.length || typeof window.vegaEmbed !== "function") return;
    figures.forEach(function (fig) {
      var data = document.getElementById(fig.getAttribute("data-chart"));
      var target = fig.querySelector(".vega");
      var spec = JSON.parse(data.textContent);
      target.textContent = "";
      window.vegaEmbed(target, spec, { actions: { export: true, source: false, compiled: false, editor: false }, renderer: "svg" })
        .then(function () { fig.classList.add("drawn"); })
        .catch(function (err) { target.textContent = "The chart could not be drawn: " + err; });
    });
  }

  // Deleting asks first (without scripts the button deletes at once).
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  // Uploads with a progress bar (the form still works without scripts).
  function uploads() {
    document.querySelectorAll("form.upload").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (typeof XMLHttpRequest === "undefined" || typeof FormData === "undefined") return;
        event.preventDefault();
        var bar = form.querySelector("progress");
        var note = form.querySelector(".upload-note");
        var button = form.querySelector("button[type=submit]");
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("Accept", "application/json");
        bar.hidden = false;
        button.disabled = true;
        note.className = "upload-note hint";
        note.textContent = "Uploading…";
        xhr.upload.onprogress = function (e) {
          if (e.lengthComputable) {
            bar.max = e.total;
            bar.value = e.loaded;
            note.textContent = "Uploading… " + Math.round((100 * e.loaded) / e.total) + "%";
          }
        };
        xhr.onload = function () {
          if (xhr.status >= 200 && xhr.status < 300) {
            window.location.reload();
            return;
          }
          var message = "The upload failed (" + xhr.status + ")";
          try { message = JSON.parse(xhr.responseText).error.message; } catch (err) { /* not JSON */ }
          note.className = "upload-note error";
          note.textContent = message;
          bar.hidden = true;
          button.disabled = false;
        };
        xhr.onerror = function () {
          note.className = "upload-note error";
          note.textContent = "The connection broke during the upload; try again.";
          bar.hidden = true;
          button.disabled = false;
        };
        xhr.send(new FormData(form));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("progress");
    if (box) poll(box);
    charts();
    uploads();
    confirmations();
  });
})();
