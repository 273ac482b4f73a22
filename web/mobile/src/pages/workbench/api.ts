import { http } from '@shared/index'

export interface Todo {
  key: string
  label: string
  count: number
  url: string | null
}

export interface WorkbenchApp {
  key: string
  name: string
  icon: string | null
  url: string | null
}

export interface Workbench {
  todos: Todo[]
  apps: WorkbenchApp[]
}

export function getWorkbench() {
  return http.get<Workbench>('/workbench')
}
