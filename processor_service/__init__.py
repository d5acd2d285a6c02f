"""The processor service: Dramatiq workers that run pipeline steps on stored files."""
