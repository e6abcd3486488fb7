// V8's heap, sized for a Grace service. Without a cap V8 sizes the old generation from the machine's memory (or the
// container's, where Node can see its cgroup limit) and, with that much room, defers full collections: under
// `grace bench` a service's heap held 68 MB of which 22 MB was live (a heap snapshot's full GC), and services reached
// 155-190 MB RSS. With these options they stay at 100-125 MB through the whole bench at no CPU cost the bench can
// tell apart (docs/performance.md). A service that needs more live heap (a very large catalog, many WebSocket
// sessions) gets its own NODE_OPTIONS and a larger memory limit.

/** The V8 options every Grace service process runs with unless its NODE_OPTIONS says otherwise. */
export const HEAP_OPTIONS: readonly string[] = ['--max-old-space-size=96', '--max-semi-space-size=8'];

/** `nodeOptions` (a NODE_OPTIONS value) with each of HEAP_OPTIONS it does not set itself put in front. */
export function withHeapOptions(nodeOptions: string | undefined): string {
  const given = nodeOptions?.trim() ?? '';
  const set = new Set(given.split(/\s+/).map((option) => option.split('=')[0]!.replace(/_/g, '-')));
  const missing = HEAP_OPTIONS.filter((option) => !set.has(option.split('=')[0]!));
  return [...missing, ...(given ? [given] : [])].join(' ');
}
