"""Text stages: segmenting text into sentences and clauses, and phonemizing."""
