"""Model plugins: encoders over embedded vector sets (see ``framework.Encoder``)."""
