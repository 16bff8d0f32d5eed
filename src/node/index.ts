/**
 * `hotcold/node`: the reference JSON-RPC node that serves only while it holds the lease.
 */
export {};
