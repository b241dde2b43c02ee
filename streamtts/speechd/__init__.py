"""The speech-dispatcher output module (sd_streamtts) and its set-up."""
