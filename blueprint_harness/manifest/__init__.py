"""The deployment manifest (prefect.yaml) on its own: read, checked before any server
starts, and compared with what a live server holds."""
