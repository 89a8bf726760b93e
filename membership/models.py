"""No models yet; see apps.py for what this app will own."""
