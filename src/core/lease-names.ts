/**
 * The names of the controller's leases in the store. Apart from the controller so that readers
 * of the store (`spotrun status`, the dashboard) can look a lease up without loading the controller.
 */
export const LEASE = "controller";
/** On a shared store each controller holds its own lease, named with this prefix, to say it is alive. */
export const SHARED_LEASE_PREFIX = "controller:";
