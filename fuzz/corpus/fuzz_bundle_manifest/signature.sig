# ringward bundle signature: Ed25519 over the exact bytes of ringward-bundle.yml,
# which lists the sha256 of every file of the bundle.
ed25519 8720415a763e3350 xqsjURh0W7/01LoJLtzaJSnP0PNr5bpJMtUx3D0mK8CdmaYSbMTOfEpABX62vFZZjl9V7ARxzsSoB8C/X+bHDQ==
ed25519 9668aa8b7de9b56a xqsjURh0W7/01LoJLtzaJSnP0PNr5bpJMtUx3D0mK8CdmaYSbMTOfEpABX62vFZZjl9V7ARxzsSoB8C/X+bHDQ==
