// Texts of the customer UI. Japanese is the default; English when the page
// or the site's configuration asks for it.
export type Lang = 'ja' | 'en';

const ja = {
  title: '画面共有サービス',
  termsHeading: 'ご利用にあたって',
  terms: [
    '共有されるのは、このブラウザのタブに表示されている当サイトの画面だけです。ほかのアプリやデスクトップは見えません。',
    'ID・パスワードなど入力欄の内容は、お客さまの端末上で伏せ字に置き換えてから送られるため、担当者には見えません。',
    '画面に表示されている残高などの情報は、担当者にそのまま表示されます。',
    '担当者は画面上に〇印を表示して場所をご案内するだけで、入力・クリック・画面の移動はできません。',
    '共有中の画面は録画されません。記録されるのは利用日時や時間などの情報のみです。',
    '画面上のソフトウェアキーボードを使う間、共有は自動的に一時停止します。',
    '混雑時はご利用いただけないことがあります。',
  ],
  agree: '上記に同意します',
  enterCode: 'セッションコード入力',
  codeLabel: '担当者がお伝えする6桁の数字',
  ok: 'OK',
  close: '閉じる',
  connecting: '接続しています…',
  sharing: '画面共有中',
  paused: '画面共有を一時停止中',
  pausedSecure: 'ソフトウェアキーボード使用中のため一時停止しています',
  pausedExcluded: 'このページは共有されません',
  pausedSite: '一時停止しています',
  reconnecting: '再接続しています…',
  staff: '担当',
  end: '終了',
  ended: '画面共有を終了しました',
  endedError: '問題が起きたため画面共有を終了しました。続けるには担当者に新しいコードをお尋ねください。',
  errInvalid: 'コードが正しくないか、有効期限が切れています。担当者に新しいコードをお尋ねください。',
  errBusy: 'ただいま混雑しております。しばらくたってから、もう一度お試しください。',
  errNetwork: '接続できませんでした。通信環境をご確認のうえ、もう一度お試しください。',
  errRate: '試行回数が多すぎます。しばらくたってから、もう一度お試しください。',
  errFormat: '6桁の数字を入力してください。',
  warning: 'まもなく画面共有の上限時間に達します',
  confirmTitle: '担当者の確認',
  confirmText: 'お電話の担当者の名前と同じかご確認ください。同じであれば共有を開始してください。',
  confirmStaff: '担当者',
  start: '共有を開始する',
  cancel: 'やめる',
  otherTab: '画面共有は別のタブで続いています。このタブは共有されません。',
  waitTitle: '担当者の確認をお待ちください',
  waitText: 'お電話の担当者に、次の確認番号をお伝えください。',
  checkLabel: '確認番号',
  waitNote: '担当者が確認すると、担当者の名前が表示されます。まだ画面は共有されていません。',
  errCrowded: 'このコードには接続をお待ちの方が多すぎます。担当者に新しいコードをお尋ねください。',
  errNotAdmitted: '担当者が接続を承認しませんでした。確認番号が担当者に伝わっていたか、お電話でご確認ください。',
  errGone: 'このコードでの受付は終了しました。担当者に新しいコードをお尋ねください。',
  notice: 'お知らせ',
};

const en: typeof ja = {
  title: 'Screen sharing',
  termsHeading: 'Before you start',
  terms: [
    'Only this site, as shown in this browser tab, is shared. Other apps and your desktop are not visible.',
    'What you type into fields such as IDs and passwords is replaced on your device before anything is sent, so staff cannot see it.',
    'Information shown on the page, such as balances, is visible to staff as it is.',
    'Staff can point at places with a circle (〇) but cannot type, click or move between pages for you.',
    'The shared screen is never recorded. Only when and how long the session lasted is logged.',
    'Sharing pauses by itself while you use an on-screen keyboard.',
    'At busy times the service may not be available.',
  ],
  agree: 'I agree to the above',
  enterCode: 'Enter session code',
  codeLabel: 'The 6-digit code staff read out to you',
  ok: 'OK',
  close: 'Close',
  connecting: 'Connecting…',
  sharing: 'Screen sharing on',
  paused: 'Screen sharing paused',
  pausedSecure: 'Paused while the on-screen keyboard is in use',
  pausedExcluded: 'This page is not shared',
  pausedSite: 'Paused',
  reconnecting: 'Reconnecting…',
  staff: 'Staff',
  end: 'End',
  ended: 'Screen sharing has ended',
  endedError: 'Screen sharing stopped because of a problem. Ask staff for a new code to continue.',
  errInvalid: 'The code is wrong or has expired. Please ask staff for a new code.',
  errBusy: 'Busy, please try again later.',
  errNetwork: 'Could not connect. Please check your connection and try again.',
  errRate: 'Too many attempts. Please wait a moment and try again.',
  errFormat: 'Please enter the 6 digits.',
  warning: 'The session will soon reach its time limit',
  confirmTitle: 'Check who you are sharing with',
  confirmText: 'Please check that this is the name of the person you are speaking to on the phone, then start sharing.',
  confirmStaff: 'Staff',
  start: 'Start sharing',
  cancel: 'Cancel',
  otherTab: 'Screen sharing continues in another tab. This tab is not shared.',
  waitTitle: 'Waiting for staff',
  waitText: 'Please read this check number to the person you are speaking to on the phone.',
  checkLabel: 'Check number',
  waitNote: 'Once they have checked it, you will see their name. Nothing is shared yet.',
  errCrowded: 'Too many people are waiting to join with this code. Please ask staff for a new code.',
  errNotAdmitted: 'Staff did not accept the connection. Please check on the phone that they heard your check number.',
  errGone: 'This code can no longer be used. Please ask staff for a new code.',
  notice: 'Notice',
};

export type Texts = typeof ja;

export function texts(lang: Lang): Texts {
  return lang === 'en' ? en : ja;
}

export function detectLang(script: HTMLScriptElement | null): Lang {
  const attr = script?.dataset.lang || document.documentElement.lang || '';
  return attr.toLowerCase().startsWith('en') ? 'en' : 'ja';
}
