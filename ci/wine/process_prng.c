/* bcryptprimitives.dll for Wine 8, which lacks ProcessPrng: Rust's std
 * (1.78 and later) imports it for its random numbers. Built by ci/wine.sh
 * with x86_64-w64-mingw32-gcc and put beside the test executables.
 * ProcessPrng fills the buffer from the system's RNG and always succeeds;
 * here it is RtlGenRandom (advapi32's SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
