"""Evidence photos: JPEGs from phones, with position and time from EXIF, attached to the
patch (or plot) they show, stored with thumbnails, shown in map popups.

Pillow is needed to read photos (``pip install 'ecomap[photos]'``); it is imported when
a photo is read, so importing this package costs nothing.
"""

from ecomap.photos.attach import Attachment, attach_photo, target_label
from ecomap.photos.popup import PopupBudget, photo_popup_html, photo_popups
from ecomap.photos.read import PhotoInfo, id_in_name, read_photo
from ecomap.photos.service import PhotoResult, PhotosAdded, add_photos, photo_files

__all__ = ["Attachment", "PhotoInfo", "PhotoResult", "PhotosAdded", "PopupBudget",
           "add_photos", "attach_photo", "id_in_name", "photo_files", "photo_popup_html", "photo_popups",
           "read_photo", "target_label"]
