//! What several rules need to know about the workspace, computed once and shared: the waits of
//! k8s-wait-for and `kubectl wait` init containers and the Jobs they find, the containers of
//! workloads and the migration Jobs they await, and the RBAC a context grants. Rules import
//! from here, never from each other; nothing here builds a diagnostic.

pub mod wait_target;
