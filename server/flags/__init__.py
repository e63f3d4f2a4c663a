"""From scored rows to flags: what raises a flag, trend per patient, and recording it in the store."""
