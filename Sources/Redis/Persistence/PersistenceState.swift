/// RDB persistence: last save time and status, save points, a snapshot in progress.
struct PersistenceState {}
