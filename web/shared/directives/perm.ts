/**
 * v-perm="'accounts.manage'" or v-perm="['orgs.manage', 'accounts.manage']" (any of):
 * removes the element when the user lacks the permission. The server checks every call;
 * this only hides what cannot be used.
 */
import type { App, Directive } from 'vue'
import { auth } from '../auth/store'

function apply(el: HTMLElement, value: string | string[]): void {
  if (!value || (Array.isArray(value) && value.length === 0)) return
  if (!auth.hasPerm(value)) el.parentNode?.removeChild(el)
}

export const permDirective: Directive<HTMLElement, string | string[]> = {
  mounted(el, binding) {
    apply(el, binding.value)
  },
}

export function installPerm(app: App): void {
  app.directive('perm', permDirective)
}
