"""The Pusher that publishes blessed models as atomic, never-colliding integer versions."""
