{
  "targets": [
    {
      "target_name": "netfx_native",
      "sources": ["src/netfx_native.c"],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
