/**
 * `hotcold/lease`: the leader lease that decides which node is hot.
 */
export { ConfigurationError } from '../errors.js';
export type * from './types.js';
