/**
 * Go's `errgroup`: run tasks together, cancel the siblings on the first error, wait for all of
 * them, report the first error; with an optional concurrency limit.
 * @module
 */
export { ErrGroup, type ErrGroupOptions, type GroupTask } from './errgroup.js';
