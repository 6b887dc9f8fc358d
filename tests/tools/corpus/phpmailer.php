<?php
// Composer: PHPMailer (Debian libphp-phpmailer), messages built with preSend()
// and taken with getSentMIMEMessage(), never sent. usage: php phpmailer.php OUTDIR
require '/usr/share/php/libphp-phpmailer/autoload.php';
use PHPMailer\PHPMailer\PHPMailer;

$out = $argv[1];
$long = "Réunion trimestrielle : résultats, prévisions budgétaires et planification stratégique pour l'année 2027";
$pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
$png = hex2bin("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489");

function make($subject, $id) {
    $m = new PHPMailer(true);
    $m->CharSet = PHPMailer::CHARSET_UTF8;
    $m->setFrom('juergen@example.org', 'Jürgen Groß');
    $m->addAddress('zoe@example.net', 'Zoë Müller');
    $m->Subject = $subject;
    $m->MessageID = "<$id@example.org>";
    $m->MessageDate = 'Tue, 1 Dec 2026 10:00:00 +0000';
    return $m;
}
function save($out, $name, $m) {
    $m->preSend();
    file_put_contents("$out/$name.eml", $m->getSentMIMEMessage());
}

$m = make('PHPMailer ascii', 'php1');
$m->Body = "Hello from PHPMailer.\n";
save($out, 'phpmailer--ascii', $m);

$m = make($long, 'php2');
$m->Body = "Bonjour Zoë,\n\nà bientôt.\n";
save($out, 'phpmailer--long-subject', $m);

$m = make('CV', 'php3');
$m->Body = "Voir la pièce jointe.\n";
$m->addStringAttachment($pdf, 'Résumé 2026.pdf', PHPMailer::ENCODING_BASE64, 'application/pdf');
save($out, 'phpmailer--attachment-utf8-name', $m);

$m = make('Newsletter', 'php4');
$m->isHTML(true);
$m->Body = '<p>Grüße <img src="cid:logo"></p>';
$m->AltBody = "Grüße\n";
$m->addStringEmbeddedImage($png, 'logo', 'logo.png', PHPMailer::ENCODING_BASE64, 'image/png');
save($out, 'phpmailer--html-inline-image', $m);

$m = make('Invitation: Réunion', 'php5');
$m->Body = "Invitation\n";
$m->Ical = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:php5@example.org\r\nDTSTART:20261203T100000Z\r\nSUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
save($out, 'phpmailer--calendar', $m);
