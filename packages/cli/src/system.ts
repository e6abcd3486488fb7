// What the whole-system tools share, from @grace/harness (which holds the launcher): kept here for the
// end-to-end tests, which import it as @grace/cli/system.
export * from '@grace/harness/system';
