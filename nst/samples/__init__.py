"""The offline sample images ``nst data setup`` makes: ``photos`` (scikit-image's public-domain and
CC0 photographs into ``content/``) and ``paintings`` (the procedural styles into ``styles/``)."""
