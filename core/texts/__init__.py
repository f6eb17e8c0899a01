"""Translation tables, one module per area of the app, each with an EN and a KO dict."""
