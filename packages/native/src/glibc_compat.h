/*
 * Force-included (-include) by scripts/prebuild.js into the prebuilt glibc
 * binaries only: binds the two symbols that glibc 2.34 moved from
 * libpthread into libc (and so versioned GLIBC_2.34) to their original
 * versions, so the binary loads on any glibc since 2.17 rather than 2.34.
 * The linker flags add libpthread.so.0 as NEEDED for glibc < 2.34, where
 * these symbols still live there.
 */
#if defined(__x86_64__)
__asm__(".symver pthread_create, pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_detach, pthread_detach@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver pthread_create, pthread_create@GLIBC_2.17");
__asm__(".symver pthread_detach, pthread_detach@GLIBC_2.17");
#else
#error "glibc_compat.h: unknown architecture"
#endif
