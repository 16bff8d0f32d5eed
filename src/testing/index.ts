/**
 * `hotcold/testing`: real servers on loopback for tests, examples and the demo. Not for
 * production traffic.
 */
