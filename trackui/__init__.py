"""trackui: experiment tracking for the terminal."""
