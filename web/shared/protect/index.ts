/**
 * Leak protection for pages that show personal data: copy, cut, the context menu, dragging
 * text out and printing are disabled, and text cannot be selected (form fields stay usable).
 * Printing shows a notice instead of the page (CSS @media print, see styles/protect.css).
 *
 * `installBlurWhenHidden()` blurs the whole app while the tab is hidden or the window has
 * lost focus, so app switchers and screen sharing do not show the content.
 */
import { onActivated, onBeforeUnmount, onDeactivated, onMounted } from 'vue'

const PROTECT_CLASS = 'zd-protected'
const BLUR_CLASS = 'zd-blurred'
let protectCount = 0

function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null
  if (!el || !el.closest) return false
  return !!el.closest('input, textarea, [contenteditable="true"]')
}

function onCopy(e: ClipboardEvent): void {
  // what the user typed into a form field is theirs to copy
  if (isEditable(e.target)) return
  e.preventDefault()
  e.stopPropagation()
  e.clipboardData?.setData('text/plain', '')
}

function onContextMenu(e: Event): void {
  if (isEditable(e.target)) return
  e.preventDefault()
}

function onKeyDown(e: KeyboardEvent): void {
  const mod = e.ctrlKey || e.metaKey
  if (!mod) return
  const key = e.key.toLowerCase()
  if (key === 'p' || key === 's') {
    e.preventDefault()
    e.stopPropagation()
  }
}

function onDragStart(e: DragEvent): void {
  e.preventDefault()
}

function enable(): void {
  protectCount += 1
  if (protectCount > 1) return
  document.documentElement.classList.add(PROTECT_CLASS)
  document.addEventListener('copy', onCopy, true)
  document.addEventListener('cut', onCopy, true)
  document.addEventListener('contextmenu', onContextMenu, true)
  document.addEventListener('keydown', onKeyDown, true)
  document.addEventListener('dragstart', onDragStart, true)
}

function disable(): void {
  protectCount = Math.max(0, protectCount - 1)
  if (protectCount > 0) return
  document.documentElement.classList.remove(PROTECT_CLASS)
  document.removeEventListener('copy', onCopy, true)
  document.removeEventListener('cut', onCopy, true)
  document.removeEventListener('contextmenu', onContextMenu, true)
  document.removeEventListener('keydown', onKeyDown, true)
  document.removeEventListener('dragstart', onDragStart, true)
}

/** Call in the setup of a page that shows personal data. */
export function usePersonalDataProtection(): void {
  let on = false
  const start = () => {
    if (!on) {
      on = true
      enable()
    }
  }
  const end = () => {
    if (on) {
      on = false
      disable()
    }
  }
  onMounted(start)
  onActivated(start)
  onDeactivated(end)
  onBeforeUnmount(end)
}

/** For routes: `meta: { personalData: true }` turns protection on for that route. */
let routeProtected = false
export function setRouteProtection(on: boolean): void {
  if (on === routeProtected) return
  routeProtected = on
  if (on) enable()
  else disable()
}

export function isProtected(): boolean {
  return protectCount > 0
}

let blurInstalled = false

export function installBlurWhenHidden(): void {
  if (blurInstalled) return
  blurInstalled = true
  const root = document.documentElement
  const blur = () => root.classList.add(BLUR_CLASS)
  const unblur = () => root.classList.remove(BLUR_CLASS)
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') blur()
    else if (document.hasFocus()) unblur()
  })
  window.addEventListener('blur', blur)
  window.addEventListener('focus', unblur)
  // any interaction means the window has focus again (some browsers skip the focus event)
  window.addEventListener('pointerdown', unblur, true)
  window.addEventListener('keydown', unblur, true)
}
