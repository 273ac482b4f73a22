/**
 * Binding an authenticator (TOTP), shared by both apps: the login step an administrator's role
 * requires and the profile page. Loads the secret and QR code, confirms a 6-digit code.
 */
import { computed, onMounted, ref } from 'vue'
import { errorMessage } from '../api/http'
import type { TotpSetup } from '../api/types'
import { auth } from './store'
import { sendTotpCode, TOTP_CODE } from './useLogin'

export function useTotpBind(options: { onError: (e: unknown) => void; onDone: () => void }) {
  const loading = ref(false)
  const submitting = ref(false)
  const setup = ref<TotpSetup | null>(null)
  const failure = ref('')
  const code = ref('')

  // shown as an image: svg markup in an <img> cannot run scripts
  const qrSrc = computed(() => (setup.value ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.value.qr_svg)}` : ''))
  const groupedSecret = computed(() => setup.value?.secret.replace(/(.{4})/g, '$1 ').trim() ?? '')
  const codeComplete = computed(() => TOTP_CODE.test(code.value))

  async function load(): Promise<void> {
    loading.value = true
    failure.value = ''
    try {
      setup.value = await auth.setupTotp()
    } catch (e) {
      failure.value = errorMessage(e, '二维码生成失败')
    } finally {
      loading.value = false
    }
  }

  async function confirm(): Promise<void> {
    if (await sendTotpCode(code, submitting, auth.confirmTotp, options.onError)) options.onDone()
  }

  onMounted(load)

  return { loading, submitting, setup, failure, code, codeComplete, qrSrc, groupedSecret, load, confirm }
}
