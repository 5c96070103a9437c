// malloc.h: glibc's allocator. malloc_trim(3) cannot fail; it returns 1 if memory was released to the system.
import { libc } from './libc.js';

const mallocTrimNative = libc.func('int malloc_trim(size_t pad)');

/** malloc_trim(3): gives free heap memory back to the kernel, the top of the heap and free pages inside it (glibc >= 2.8). */
export function mallocTrim(): boolean {
  return mallocTrimNative(0) === 1;
}
