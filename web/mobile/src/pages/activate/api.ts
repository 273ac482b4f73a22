import { http } from '@shared/index'

export interface ActivateBody {
  name: string
  phone: string
  code: string
  password: string
  device_id?: string
}

export function activateAccount(body: ActivateBody) {
  return http.post<{ ok: boolean }>('/accounts/activate', body, { anonymous: true })
}
