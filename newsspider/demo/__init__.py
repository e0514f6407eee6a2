"""The bundled demo site: a small copy of bannedbook.org served on 127.0.0.1."""
