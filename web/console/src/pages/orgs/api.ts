import { http, type Person, type Unit } from '@shared/index'

export const listRoots = () => http.get<Unit[]>('/orgs/roots')
export const listChildren = (id: string) => http.get<Unit[]>(`/orgs/${id}/children`)
export const getUnit = (id: string) => http.get<Unit>(`/orgs/${id}`)
export const listMembers = (id: string) => http.get<Person[]>(`/orgs/${id}/members`)
export const createUnit = (body: { parent_id: string; name: string; kind: 'department' | 'grid' }) => http.post<Unit>('/orgs', body)
export const renameUnit = (id: string, name: string) => http.patch<Unit>(`/orgs/${id}`, { name })
export const moveUnit = (id: string, newParentId: string) => http.post<Unit>(`/orgs/${id}/move`, { new_parent_id: newParentId })

export const KIND_LABELS: Record<string, string> = {
  command: '指挥部',
  committee: '委员会',
  department: '部门',
  grid: '网格',
}
export const LEVEL_LABELS: Record<number, string> = { 1: '省级', 2: '市（县）级', 3: '区（乡镇）级', 4: '街道（行政村）级', 5: '社区（自然村）级', 6: '网格' }

export type UnitFormMode = 'department' | 'grid' | 'rename' | 'move'
