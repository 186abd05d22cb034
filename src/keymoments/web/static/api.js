// keymoments web app: the API page draws /openapi.json with the shipped Swagger UI
// (a script file rather than an inline one, which the page's policy would block).
(function () {
  "use strict";
  window.addEventListener("load", function () {
    if (typeof window.SwaggerUIBundle !== "function") return;
    window.ui = window.SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  });
})();
