"""Evaluation reports: success tables, latency summaries/histograms, videos — ROS-free, from the files
the eval runner node writes (``episodes.jsonl``, ``latency.npz``, ``frames_*.npz``)."""
