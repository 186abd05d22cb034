"""What people say: free-text comments coded into themes, as evidence at each moment."""
