"""Pulsen Combine: approved home-care visits in, the monthly compensation basis out."""
