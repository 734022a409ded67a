// Several head-office instances on one event store: the writer lease, the leader and follower
// roles, and what each role runs.

export {
  type FollowerRole,
  type HeadOfficeRoleDeps,
  headOfficeRoles,
  type WriterRole,
} from './head-office-roles.js';
export {
  Leadership,
  type LeadershipOptions,
  type LeadershipStatus,
  type Role,
} from './leadership.js';
export {
  type HeldLease,
  type LeaseHolder,
  soleInstanceLease,
  type WriterLease,
} from './lease.js';
export {
  PostgresWriterLease,
  type PostgresWriterLeaseOptions,
} from './postgres-lease.js';
