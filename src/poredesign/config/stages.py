"""Which workflow stages each structure generator offers."""

#: stages that exist only for some generators (the design of [R22] is ABC over spinodoid parameters)
DESIGN_STAGE_GENERATORS: dict[str, tuple[str, ...]] = {
    "design": ("spinodoid", "squares", "imported"),
    "slerp": ("squares", "imported"),
    "latent": ("voronoi",),
    "estimate": ("voronoi",),
    "bo": ("voronoi",),
    "transfer": ("voronoi",),
    "imports": ("voronoi",),
    "report": ("spinodoid", "voronoi", "squares", "imported"),
}

#: generators whose design stage is the [A25] latent gradient design with the pVAE (and slerp)
LATENT_DESIGN_GENERATORS = ("squares", "imported")
