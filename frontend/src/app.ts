// Code a front end would write against the generated types; tsc --strict must accept it.
import type {
  CreateTaskMutation,
  CreateTaskMutationVariables,
  MeQuery,
  RefetchQuery,
  RegisterMutation,
  TasksQuery,
  TasksQueryVariables,
} from "./generated";

export function registeredUserId(result: RegisterMutation): string | null {
  return result.register.user?.id ?? null;
}

export function createVariables(title: string, when: Date | null): CreateTaskMutationVariables {
  return { title, scheduledAt: when === null ? null : when.toISOString() };
}

export function createdTitle(result: CreateTaskMutation): string | undefined {
  const errors: string[] = result.taskCreate.errors.map((error) => `${error.field}: ${error.code}`);
  return errors.length ? undefined : result.taskCreate.task?.title;
}

export function nextPage(result: TasksQuery, first: number): TasksQueryVariables | null {
  const { hasNextPage, endCursor } = result.tasks.pageInfo;
  return hasNextPage ? { first, after: endCursor ?? null } : null;
}

export function titles(result: TasksQuery): string[] {
  const total: number = result.tasks.totalCount;
  const rows = result.tasks.edges.map((edge) => {
    const scheduled: string | null | undefined = edge.node.scheduledAt;
    return `${edge.node.title} (${scheduled ?? "unscheduled"})`;
  });
  return rows.length <= total ? rows : [];
}

export function email(result: MeQuery): string | null {
  return result.me ? result.me.email : null;
}

export function describe(result: RefetchQuery): string {
  const node = result.node;
  if (node === null) return "nothing you can see";
  switch (node.__typename) {
    case "Task":
      return `task ${node.title} (${node.status})`;
    case "User":
      return `user ${node.email}`;
    default:
      return `${node.__typename} ${node.id}`;
  }
}
