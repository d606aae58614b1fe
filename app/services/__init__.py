"""The booking rules. Services take ``db`` first and never see HTTP types."""
