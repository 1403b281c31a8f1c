//! Scraping: pulls metrics from targets into storage.
