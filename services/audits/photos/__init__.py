"""Photos of audited sites and of recommendations: upload, EXIF place and time, clean copies, thumbnails, files."""
