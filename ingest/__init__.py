"""Reading articles in: parsing, entity extraction (``ingest.extract``) and bulk ingestion."""
