"""Stream processors: pure batch stages (dedupe, identity, timeline) wired by a faust app."""
