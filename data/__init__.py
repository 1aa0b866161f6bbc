"""Reading, validating and simulating the study data; the codebook is the source of truth."""
