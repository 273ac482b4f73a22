/**
 * The returnee API (src/zhengding/returnees/router.py), its shapes, labels and live events,
 * shared by the console and the mobile app. Each app adds only what depends on its UI library
 * (tag colours) in its pages/returnees/api.ts.
 */
import { buildUrl, http } from '../api/http'

export type ReturneeStatus = 'routing' | 'dispatched' | 'acknowledged' | 'monitoring' | 'released'

export const STATUS_LABELS: Record<ReturneeStatus, string> = {
  routing: '待分派',
  dispatched: '待签收',
  acknowledged: '已签收',
  monitoring: '监测中',
  released: '已解除',
}
export const STATUS_ORDER: ReturneeStatus[] = ['routing', 'dispatched', 'acknowledged', 'monitoring', 'released']
export const CODE_LABELS: Record<string, string> = { green: '绿码', yellow: '黄码', red: '红码' }
export const TRANSPORT_LABELS: Record<string, string> = { flight: '航班', train: '火车', ship: '轮渡', car: '自驾', other: '其他' }
export const PLAN_LABELS: Record<string, string> = { home: '居家监测', centralized: '集中隔离', self: '自我健康监测' }
export const SYMPTOM_LABELS: Record<string, string> = {
  fever: '发热',
  cough: '咳嗽',
  fatigue: '乏力',
  sore_throat: '咽痛',
  loss_of_taste: '味觉丧失',
  diarrhea: '腹泻',
  other: '其他',
}

export const HISTORY_LABELS: Record<string, string> = {
  dispatched: '自动分派到村',
  queued: '进入人工分派队列',
  routed: '人工分派到村',
  reassigned: '转移到其他村（搬家）',
  acknowledged: '网格员签收',
  enrolled: '登记造册',
  checked_in: '健康监测打卡',
  anomaly_reported: '上报异常',
  anomaly_resolved: '异常已处置',
  released: '解除监测',
  ack_overdue: '超时未签收',
  ack_escalated: '超时上报乡镇',
  check_in_overdue: '漏报健康监测',
  check_in_escalated: '漏报上报乡镇',
  nat_result: '核酸检测结果',
}

/** the seven counters of issue #5 point 6, in display order */
export const COUNTERS = [
  { key: 'arrivals', label: '抵达', color: '#1a5fd1' },
  { key: 'acknowledged', label: '已签收', color: '#e6a23c' },
  { key: 'enrolled', label: '已登记', color: '#b37feb' },
  { key: 'in_monitoring', label: '监测中', color: '#36cfc9' },
  { key: 'anomalies', label: '异常', color: '#f56c6c' },
  { key: 'overdue', label: '逾期', color: '#cf1322' },
  { key: 'released', label: '已解除', color: '#67c23a' },
] as const
export type CounterKey = (typeof COUNTERS)[number]['key']

export interface Counters {
  arrivals: number
  routing: number
  acknowledged: number
  enrolled: number
  in_monitoring: number
  released: number
  anomalies: number
  open_anomalies: number
  overdue: number
}

export interface ChildStats extends Counters {
  id: string
  name: string
  level: number
  kind: string
}

export interface ReturneeStats {
  unit: { id: string; name: string; level: number; kind: string; parent_id: string | null }
  total: Counters
  held_here: Counters
  children: ChildStats[]
  by_day: (Counters & { day: string })[]
  by_port: (Counters & { port_of_entry: string })[]
  by_origin: (Counters & { origin_province: string })[]
}

export interface ReturneeItem {
  id: string
  name_masked: string
  id_number_masked: string
  phone_masked: string
  origin_province: string
  origin_city: string
  origin_risk_area: boolean
  port_of_entry: string
  arrived_at: string
  transport: string
  transport_no: string
  destination_text: string
  resolved_path: string
  health_code: 'green' | 'yellow' | 'red'
  status: ReturneeStatus
  status_label: string
  unit_id: string
  unit_name: string | null
  received_at: string
  acknowledged_at: string | null
  enrolled_at: string | null
  monitoring_until: string | null
  monitoring_due: boolean
  last_check_in_day: string | null
  overdue: boolean
  ack_overdue: boolean
  check_in_overdue_day: string | null
  open_anomalies: number
}

export interface HistoryEntry {
  id: string
  kind: string
  actor_name: string | null
  at: string
  note: string
  from_unit_id: string | null
  from_unit_name: string | null
  to_unit_id: string | null
  to_unit_name: string | null
}

export interface CheckIn {
  id: string
  day: string
  temperature: number
  symptoms: string[]
  note: string
  recorded_by_name: string
  created_at: string
}

export interface Anomaly {
  id: string
  returnee_id: string
  kind: string
  kind_label: string
  description: string
  status: 'open' | 'resolved'
  reported_by_name: string
  reported_at: string
  ding_id: string | null
  resolved_by_name: string | null
  resolved_at: string | null
  resolution: string
  /** in lists and in the live events */
  returnee_name_masked?: string
  unit_name?: string | null
  unit_id?: string
}

export interface ReturneeDetail extends ReturneeItem {
  registration_id: string
  resolved_code: string | null
  resolved_level: number | null
  actual_address: string | null
  contact_phone_masked: string | null
  household_size: number | null
  household_note: string
  monitoring_plan: string | null
  monitoring_days: number | null
  released_at: string | null
  history: HistoryEntry[]
  check_ins: CheckIn[]
  anomalies: Anomaly[]
}

/** The list's filters (the export takes the same). `from`/`to`: arrival days, YYYY-MM-DD. */
export interface ReturneeFilter {
  status?: string
  unit_id?: string
  q?: string
  overdue?: boolean
  anomalies?: boolean
  port_of_entry?: string
  from?: string
  to?: string
}

/** `page` (1-based) pages by number; without it, `before` (the last answer's next_before) pages by keyset. */
export interface ListQuery extends ReturneeFilter {
  page?: number
  before?: string
  limit?: number
}

export interface ReturneePage {
  items: ReturneeItem[]
  total: number
  next_before: string | null
}

export interface EnrolBody {
  identity_confirmed: boolean
  actual_address: string
  contact_phone?: string | null
  household_size?: number | null
  household_note?: string
  monitoring_plan?: 'home' | 'centralized' | 'self'
  monitoring_days?: number | null
}

export interface CheckInBody {
  temperature: number
  symptoms?: string[]
  note?: string
}

export interface AnomalyBody {
  kind: string
  description?: string
}

const base = '/returnees'
const enc = encodeURIComponent

export const listReturnees = (q: ListQuery) => http.get<ReturneePage>(base, { ...q })
/** the list under these filters as a watermarked xlsx (download with downloadFile) */
export const exportPath = (f: ReturneeFilter) => buildUrl(`${base}/export`, { ...f })
export const getReturnee = (id: string) => http.get<ReturneeDetail>(`${base}/${enc(id)}`)
export const returneeStats = (q: { unit_id?: string; from?: string; to?: string }) => http.get<ReturneeStats>(`${base}/stats`, { ...q })
export const routingQueue = (page = 1, pageSize = 50) =>
  http.get<{ items: ReturneeItem[]; total: number }>(`${base}/routing-queue`, { page, page_size: pageSize })
export const routeReturnee = (id: string, villageId: string, note: string) =>
  http.post<ReturneeItem>(`${base}/${enc(id)}/route`, { village_id: villageId, note })
export const reassignReturnee = (id: string, villageId: string, note: string) =>
  http.post<ReturneeItem>(`${base}/${enc(id)}/reassign`, { village_id: villageId, note })
export const listAnomalies = (status: 'open' | 'resolved' | '') => http.get<Anomaly[]>(`${base}/anomalies`, { status })
export const resolveAnomaly = (id: string, resolution: string) => http.post<Anomaly>(`${base}/anomalies/${enc(id)}/resolve`, { resolution })

export const acknowledge = (id: string) => http.post<ReturneeItem>(`${base}/${enc(id)}/acknowledge`, {})
export const enrol = (id: string, body: EnrolBody) => http.post<ReturneeItem>(`${base}/${enc(id)}/enrol`, body)
export const checkIn = (id: string, body: CheckInBody) => http.post<CheckIn>(`${base}/${enc(id)}/check-ins`, body)
export const reportAnomaly = (id: string, body: AnomalyBody) => http.post<Anomaly>(`${base}/${enc(id)}/anomalies`, body)
export const release = (id: string, note = '') => http.post<ReturneeItem>(`${base}/${enc(id)}/release`, { note })
export const revealPhone = (id: string, reason = '网格员电话联系返乡人员') =>
  http.post<{ value: string }>('/privacy/reveal', { target_type: 'returnee', target_id: id, field: 'phone', reason })

// --- live events (src/zhengding/returnees: service/*, oversight.py, nat_link.py) ---------------

/** returnees.stats.changed: the counters under a command unit changed (no personal data) */
export interface StatsChanged {
  unit_id: string
  /** counter → net change in this transaction (0: touched, e.g. moved between two villages below) */
  counters: Partial<Record<keyof Counters, number>>
  /** arrival days (Asia/Shanghai) of the returnees concerned */
  days: string[]
  /** org paths of the holding units (villages or queues) */
  paths: string[]
}

/** returnees.returnee.dequeued: left a routing queue (routed by a colleague, or otherwise) */
export interface Dequeued {
  id: string
  from_unit_id: string
}

/** returnees.returnee.withdrawn: moved to another village */
export interface Withdrawn {
  id: string
  unit_id: string
  from_unit_id: string
}

/** every live event of the returnee domain that carries a returnee or an anomaly */
export const RETURNEE_EVENTS = [
  'returnees.returnee.dispatched',
  'returnees.returnee.queued',
  'returnees.returnee.updated',
  'returnees.returnee.withdrawn',
  'returnees.returnee.dequeued',
  'returnees.returnee.escalated',
  'returnees.anomaly.reported',
  'returnees.anomaly.resolved',
  'returnees.nat.positive',
  'realtime.reload',
]
export const STATS_CHANGED = 'returnees.stats.changed'

/** Does a stats event concern a unit's figures (a holding unit at or below it, a day in range)? */
export function concerns(e: StatsChanged, unitId: string | undefined, range?: [string, string] | null): boolean {
  if (unitId && e.unit_id !== unitId && !e.paths.some((p) => p.includes(`/${unitId}/`))) return false
  if (range && !e.days.some((d) => d >= range[0] && d <= range[1])) return false
  return true
}

/** '2022-01-25' in Asia/Shanghai */
export function shanghaiDay(d: Date | string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    typeof d === 'string' ? new Date(d) : d,
  )
}
