// Several head-office instances on one event store: the writer lease, the leader and follower
// roles, and what each role runs.
export { soleInstanceLease, type HeldLease, type LeaseHolder, type WriterLease } from './lease.js';
export { PostgresWriterLease, type PostgresWriterLeaseOptions } from './postgres-lease.js';
export { Leadership, type LeadershipOptions, type LeadershipStatus, type Role } from './leadership.js';
export { headOfficeRoles, type FollowerRole, type HeadOfficeRoleDeps, type WriterRole } from './head-office-roles.js';
