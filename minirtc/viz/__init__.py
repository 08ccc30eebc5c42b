"""Pictures of what a model learned: traversals, GIFs, reconstructions, KL, MI, training curves.

Arrays in, pictures out (NumPy, Pillow, matplotlib); nothing here reads a run
directory or writes a file, so the CLI (`minirtc show`), the sweep's figures,
the live loggers and the examples share the same functions.

    traversal.py   which values a latent is swept over; decoded traversal frames; KL per latent
    frames.py      labelled uint8 mosaics (Pillow), the frames of a GIF
    animations.py  per-latent and all-latents GIF frames, the loggers' pictures
    gif.py         GIF and PNG bytes
    style.py       figure fonts, Agg canvases, PNG bytes of a figure
    grids.py       still image grids: traversals, reconstructions
    bars.py        KL of each latent
    heatmap.py     latent-factor mutual information (the matrix of MIG)
    curves.py      training curves from history rows
"""
