"""boltscope engine: storage, ingest, training and diagnosis. Never imports streamlit."""
