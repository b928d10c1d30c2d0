/**
 * Duplicate call suppression (Go's `x/sync/singleflight`) with per-caller cancellation: one
 * execution per key in flight, its outcome (value or error) shared by every caller, and the work
 * aborted only when every caller has left.
 * @module
 */
export { type FlightResult, SingleFlight, type SingleFlightOptions } from './singleflight.js';
