"""Stored bytes served from a separate origin (USP_USERCONTENT_ORIGIN) through signed,
short-lived links, the way large sites keep user content away from their own pages."""
